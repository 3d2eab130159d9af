import numpy as np
import pytest

from common.frontend_np import LABELS, FrontEnd
from common.wav import read_wav

tf = pytest.importorskip("tensorflow")
from common.speech import features, make_dataset, tf_frontend  # noqa: E402

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
    "cfg, shape",
    [
        (FrontEnd(), [49, 10, 1]),
        (FrontEnd(rate=8000, frame_length=320, frame_step=160), [49, 10, 1]),
        (FrontEnd(mfcc=False), [49, 321, 1]),  # the course's FFT: frame_length 640, 321 bins
        (FrontEnd(mfcc=False, resize=32), [32, 32, 1]),
    ],
)
def test_shapes_and_labels(dataset, cfg, shape):
    waves, ids = dataset
    waves = waves[:, : cfg.rate]  # 1 s at the front end's rate
    x, y = first_batch(make_dataset(cfg, waves, ids, train=False, batch_size=16))
    assert cfg.input_shape == shape and x.shape == (16, *shape) and x.dtype == np.float32
    assert y.tolist() == ids and y.dtype == np.int64


@pytest.mark.parametrize(
    "cfg, augment", [(FrontEnd(), None), (FrontEnd(), AUG), (FrontEnd(mfcc=False, resize=32), AUG)]
)
def test_training_is_seeded_reshuffled_each_epoch_and_augmented_when_asked(dataset, cfg, augment):
    waves, ids = dataset

    def two_epochs():
        ds = make_dataset(cfg, waves, ids, train=True, batch_size=16, augment=augment, seed=3)
        return [(x.numpy(), y.numpy().tolist()) for x, y in ds.repeat(2)]

    (x1, y1), (x2, y2) = epochs = two_epochs()
    for (xa, ya), (xb, yb) in zip(epochs, two_epochs()):
        np.testing.assert_array_equal(xa, xb)
        assert ya == yb
    assert y1 != y2 and sorted(y1) == sorted(ids)  # reshuffled each epoch
    plain = first_batch(make_dataset(cfg, waves, ids, train=False, batch_size=16))[0]
    assert x1.shape == plain.shape and np.isfinite(x1).all()
    # the same features shuffled, other ones when augmented
    assert np.allclose(np.sort(x1.ravel()), np.sort(plain.ravel())) == (augment is None)
    if augment:  # no augmentation on evaluation datasets, even when asked
        evald = make_dataset(cfg, waves, ids, train=False, batch_size=16, augment=augment)
        np.testing.assert_array_equal(first_batch(evald)[0], plain)


def test_features_equal_the_front_end_of_each_waveform(shared_data):
    go = sorted((shared_data / "mini_speech_commands" / "go").glob("*.wav"))[:5]
    waves = np.stack([read_wav(p) for p in go])
    feats = features(FrontEnd(), waves, batch_size=2)
    assert feats.shape == (5, 49, 10, 1)
    for w, f in zip(waves, feats):
        np.testing.assert_allclose(f, tf_frontend(tf.constant(w), FrontEnd()).numpy(), atol=1e-5)
