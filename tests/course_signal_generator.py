"""A literal transcription of the course's SignalGenerator (Machine Learning for IoT, lab 3),
the yardstick a grader feeds a submitted model with. Independent of common/: it imports
nothing of the project, so that tests/test_course_frontend.py checks the project against the
course and not against itself.

The 8 kHz variant is the seed report's (version c): `pad` first resamples the 16 kHz audio
with scipy's resample_poly (through tf.numpy_function, cast to float32), then pads to the
sampling rate.
"""

import numpy as np
import tensorflow as tf
from scipy import signal


class SignalGenerator:
    def __init__(
        self,
        labels,
        sampling_rate,
        frame_length,
        frame_step,
        num_mel_bins=None,
        lower_frequency=None,
        upper_frequency=None,
        num_coefficients=None,
        mfcc=False,
        file_rate=16000,
    ):
        self.labels = labels
        self.sampling_rate = sampling_rate
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.num_mel_bins = num_mel_bins
        self.lower_frequency = lower_frequency
        self.upper_frequency = upper_frequency
        self.num_coefficients = num_coefficients
        self.file_rate = file_rate
        num_spectrogram_bins = (frame_length) // 2 + 1

        if mfcc is True:
            self.linear_to_mel_weight_matrix = tf.signal.linear_to_mel_weight_matrix(
                self.num_mel_bins,
                num_spectrogram_bins,
                self.sampling_rate,
                self.lower_frequency,
                self.upper_frequency,
            )
            self.preprocess = self.preprocess_with_mfcc
        else:
            self.preprocess = self.preprocess_with_stft

    def read(self, file_path):
        audio_binary = tf.io.read_file(file_path)
        audio, _ = tf.audio.decode_wav(audio_binary)
        audio = tf.squeeze(audio, axis=1)
        return audio

    def pad(self, audio):
        if self.sampling_rate != self.file_rate:  # the seed's version c
            down = self.file_rate // self.sampling_rate
            audio = tf.numpy_function(
                lambda a: signal.resample_poly(a, 1, down).astype(np.float32), [audio], tf.float32
            )
        zero_padding = tf.zeros([self.sampling_rate] - tf.shape(audio), dtype=tf.float32)
        audio = tf.concat([audio, zero_padding], 0)
        audio.set_shape([self.sampling_rate])
        return audio

    def get_spectrogram(self, audio):
        stft = tf.signal.stft(
            audio,
            frame_length=self.frame_length,
            frame_step=self.frame_step,
            fft_length=self.frame_length,
        )
        spectrogram = tf.abs(stft)
        return spectrogram

    def get_mfccs(self, spectrogram):
        mel_spectrogram = tf.tensordot(spectrogram, self.linear_to_mel_weight_matrix, 1)
        log_mel_spectrogram = tf.math.log(mel_spectrogram + 1.0e-6)
        mfccs = tf.signal.mfccs_from_log_mel_spectrograms(log_mel_spectrogram)
        mfccs = mfccs[..., : self.num_coefficients]
        return mfccs

    def preprocess_with_stft(self, file_path):
        audio = self.read(file_path)
        audio = self.pad(audio)
        spectrogram = self.get_spectrogram(audio)
        spectrogram = tf.expand_dims(spectrogram, -1)
        spectrogram = tf.image.resize(spectrogram, [32, 32])
        return spectrogram

    def preprocess_with_mfcc(self, file_path):
        audio = self.read(file_path)
        audio = self.pad(audio)
        spectrogram = self.get_spectrogram(audio)
        mfccs = self.get_mfccs(spectrogram)
        mfccs = tf.expand_dims(mfccs, -1)
        return mfccs


# The settings of lab 3 (versions a, b) and of the seed's version c.
MFCC_OPTIONS = {
    "frame_length": 640,
    "frame_step": 320,
    "mfcc": True,
    "lower_frequency": 20,
    "upper_frequency": 4000,
    "num_mel_bins": 40,
    "num_coefficients": 10,
}
MFCC_8K_OPTIONS = {**MFCC_OPTIONS, "frame_length": 320, "frame_step": 160}
