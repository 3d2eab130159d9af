import numpy as np
import pytest

from common.frontend_np import LABELS, FrontEnd
from common.wav import read_wav

tf = pytest.importorskip("tensorflow")
from common.speech import SignalGenerator, tf_frontend  # noqa: E402

AUG = dict(shift_ms=100, gain_db=6)


@pytest.fixture(scope="module")
def dataset():
    """A tiny synthetic dataset: 2 noise waveforms per label (16 kHz, 1 s)."""
    rng = np.random.RandomState(0)
    waves = (rng.randn(2 * len(LABELS), 16000) * 0.1).astype(np.float32)
    return waves, [i for i in range(len(LABELS)) for _ in range(2)]


def first_batch(ds):
    x, y = next(iter(ds))
    return x.numpy(), y.numpy()


@pytest.mark.parametrize(
    "cfg",
    [
        FrontEnd(),
        FrontEnd(rate=8000, frame_length=320, frame_step=160),
        FrontEnd(mfcc=False),
        FrontEnd(mfcc=False, resize=32),
    ],
)
def test_shapes_and_labels(dataset, cfg):
    waves, ids = dataset
    waves = waves[:, : cfg.rate]  # 1 s at the front end's rate
    x, y = first_batch(SignalGenerator(cfg).make_dataset(waves, ids, train=False, batch_size=16))
    assert x.shape == (16, *cfg.input_shape) and x.dtype == np.float32
    assert y.tolist() == ids and y.dtype == np.int64


def test_input_shapes():
    assert FrontEnd().input_shape == [49, 10, 1]
    assert FrontEnd(rate=8000, frame_length=320, frame_step=160).input_shape == [49, 10, 1]
    assert FrontEnd(mfcc=False).input_shape == [
        49,
        321,
        1,
    ]  # the course's FFT: frame_length 640, 321 bins
    assert FrontEnd(mfcc=False, resize=32).input_shape == [32, 32, 1]


def test_train_shuffle_deterministic(dataset):
    waves, ids = dataset
    make = lambda: SignalGenerator(FrontEnd()).make_dataset(
        waves, ids, train=True, batch_size=16, seed=3
    )
    a, b = make(), make()
    ya1, ya2 = [y.numpy().tolist() for _, y in a.repeat(2)]
    yb1, yb2 = [y.numpy().tolist() for _, y in b.repeat(2)]
    assert (ya1, ya2) == (yb1, yb2)
    assert ya1 != ya2 and sorted(ya1) == sorted(ids)  # reshuffled each epoch


@pytest.mark.parametrize("cfg", [FrontEnd(), FrontEnd(mfcc=False, resize=32)])
def test_augmentation_shapes_and_determinism(dataset, cfg):
    waves, ids = dataset
    gen = SignalGenerator(cfg)
    plain = first_batch(gen.make_dataset(waves, ids, train=False, batch_size=16))[0]
    aug = lambda: gen.make_dataset(waves, ids, train=True, batch_size=16, augment=AUG, seed=1)
    epochs_a = [x.numpy() for x, _ in aug().repeat(2)]
    epochs_b = [x.numpy() for x, _ in aug().repeat(2)]
    assert epochs_a[0].shape == plain.shape
    np.testing.assert_array_equal(epochs_a[0], epochs_b[0])
    np.testing.assert_array_equal(epochs_a[1], epochs_b[1])
    assert not np.allclose(np.sort(epochs_a[0].ravel()), np.sort(plain.ravel()))
    assert np.isfinite(epochs_a[0]).all()
    # no augmentation on evaluation datasets, even when asked
    evald = first_batch(gen.make_dataset(waves, ids, train=False, batch_size=16, augment=AUG))[0]
    np.testing.assert_array_equal(evald, plain)


def test_features_equal_the_front_end_of_each_waveform(dataset, shared_data):
    waves = np.stack(
        [
            read_wav(p)
            for p in sorted((shared_data / "mini_speech_commands" / "go").glob("*.wav"))[:5]
        ]
    )
    feats = SignalGenerator(FrontEnd()).features(waves, batch_size=2)
    assert feats.shape == (5, 49, 10, 1)
    for w, f in zip(waves, feats):
        np.testing.assert_allclose(f, tf_frontend(tf.constant(w), FrontEnd()).numpy(), atol=1e-5)
