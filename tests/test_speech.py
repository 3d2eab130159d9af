import numpy as np
import pytest
from scipy.io import wavfile

from common.frontend_np import FrontEnd
from common.wav import WavError

tf = pytest.importorskip("tensorflow")
from common import speech  # noqa: E402
from common.speech import LABELS, SignalGenerator, read_split, resolve_data_dir  # noqa: E402

AUG = dict(shift_ms=100, noise=0.1, gain_db=6, time_masks=2, time_mask_width=5,
           freq_masks=2, freq_mask_width=4)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A tiny synthetic dataset: 2 files per label under root/mini_speech_commands/."""
    root = tmp_path_factory.mktemp("speech")
    rng = np.random.RandomState(0)
    paths, ids = [], []
    for i, label in enumerate(LABELS):
        (root / "mini_speech_commands" / label).mkdir(parents=True)
        for k in range(2):
            path = root / "mini_speech_commands" / label / f"spk{k}_nohash_0.wav"
            wavfile.write(str(path), 16000, (rng.randn(16000) * 3000).astype(np.int16))
            paths.append(str(path))
            ids.append(i)
    return root, paths, ids


def first_batch(ds):
    x, y = next(iter(ds))
    return x.numpy(), y.numpy()


@pytest.mark.parametrize("cfg", [FrontEnd(), FrontEnd(rate=8000, frame_length=320, frame_step=160),
                                 FrontEnd(mfcc=False), FrontEnd(mfcc=False, resize=32)])
def test_shapes_and_labels(dataset, cfg):
    _, paths, ids = dataset
    x, y = first_batch(SignalGenerator(cfg).make_dataset(paths, ids, train=False, batch_size=16))
    assert x.shape == (16, *cfg.input_shape) and x.dtype == np.float32
    assert y.tolist() == ids and y.dtype == np.int64


def test_input_shapes():
    assert FrontEnd().input_shape == [49, 10, 1]
    assert FrontEnd(rate=8000, frame_length=320, frame_step=160).input_shape == [49, 10, 1]
    assert FrontEnd(mfcc=False).input_shape == [49, 513, 1]
    assert FrontEnd(mfcc=False, resize=32).input_shape == [32, 32, 1]


def test_train_shuffle_deterministic(dataset):
    _, paths, ids = dataset
    make = lambda: SignalGenerator(FrontEnd()).make_dataset(paths, ids, train=True, batch_size=16, seed=3)
    a, b = make(), make()
    ya1, ya2 = [y.numpy().tolist() for _, y in a.repeat(2)]
    yb1, yb2 = [y.numpy().tolist() for _, y in b.repeat(2)]
    assert (ya1, ya2) == (yb1, yb2)
    assert ya1 != ya2 and sorted(ya1) == sorted(ids)  # reshuffled each epoch


@pytest.mark.parametrize("cfg", [FrontEnd(), FrontEnd(mfcc=False, resize=32)])
def test_augmentation_shapes_and_determinism(dataset, cfg):
    _, paths, ids = dataset
    gen = SignalGenerator(cfg)
    plain = first_batch(gen.make_dataset(paths, ids, train=False, batch_size=16))[0]
    aug = lambda: gen.make_dataset(paths, ids, train=True, batch_size=16, augment=AUG, seed=1)
    epochs_a = [x.numpy() for x, _ in aug().repeat(2)]
    epochs_b = [x.numpy() for x, _ in aug().repeat(2)]
    assert epochs_a[0].shape == plain.shape
    np.testing.assert_array_equal(epochs_a[0], epochs_b[0])
    np.testing.assert_array_equal(epochs_a[1], epochs_b[1])
    assert not np.allclose(np.sort(epochs_a[0].ravel()), np.sort(plain.ravel()))
    assert np.isfinite(epochs_a[0]).all()
    # no augmentation on evaluation datasets, even when asked
    evald = first_batch(gen.make_dataset(paths, ids, train=False, batch_size=16, augment=AUG))[0]
    np.testing.assert_array_equal(evald, plain)


def test_bad_wav_named(dataset, tmp_path):
    _, paths, ids = dataset
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"garbage")
    with pytest.raises(WavError, match="1 of 3.*broken.wav"):
        SignalGenerator(FrontEnd()).make_dataset(paths[:2] + [str(bad)], ids[:3], train=False)


def write_split(d, name, lines):
    d.mkdir(exist_ok=True)
    (d / name).write_text("".join(ln + "\n" for ln in lines))
    return d


def test_read_split(dataset, tmp_path):
    root, paths, ids = dataset
    data = resolve_data_dir(root)
    assert data == root / "mini_speech_commands" and resolve_data_dir(data) == data
    lines = ["./data/mini_speech_commands/" + "/".join(p.split("/")[-2:]) for p in paths]
    got, got_ids = read_split(write_split(tmp_path / "a", "kws_split_val.txt", lines), "val", data)
    assert got == [str(data / ln[len("./data/mini_speech_commands/"):]) for ln in lines]
    assert got_ids.tolist() == ids
    got, _ = read_split(write_split(tmp_path / "b", "kws_test_split.txt", lines), "test", data)
    assert len(got) == len(lines)


def test_read_split_errors(dataset, tmp_path):
    root, paths, _ = dataset
    data = root / "mini_speech_commands"
    missing = [f"./data/mini_speech_commands/yes/gone{i}_nohash_0.wav" for i in range(7)]
    d = write_split(tmp_path / "m", "kws_split_train.txt", missing + ["./data/mini_speech_commands/yes/spk0_nohash_0.wav"])
    with pytest.raises(FileNotFoundError, match=r"7 of 8 files missing.*gone0.*gone4") as e:
        read_split(d, "train", data)
    assert "gone5" not in str(e.value) and "kws_split_train.txt" in str(e.value)
    got, _ = read_split(d, "train", data, allow_missing=True)
    assert len(got) == 1
    d = write_split(tmp_path / "u", "kws_split_train.txt", ["./data/mini_speech_commands/cat/x_nohash_0.wav"])
    with pytest.raises(ValueError, match="label"):
        read_split(d, "train", data)
    d = write_split(tmp_path / "e", "kws_split_train.txt", [])
    with pytest.raises(ValueError, match="empty"):
        read_split(d, "train", data)
    with pytest.raises(FileNotFoundError, match="kws_split_val.txt or kws_val_split.txt"):
        read_split(tmp_path / "e", "val", data)


def test_resolve_data_dir_errors(tmp_path, monkeypatch):
    with pytest.raises(speech.DataError, match="no dataset"):
        resolve_data_dir(tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)

    def offline(*a, **k):
        raise Exception("URL fetch failure: no network")
    monkeypatch.setattr(tf.keras.utils, "get_file", offline)
    with pytest.raises(speech.DataError, match="--data DIR"):
        resolve_data_dir()

    def fake_get_file(fname, origin, extract, cache_dir, cache_subdir):
        (tmp_path / cache_subdir / "mini_speech_commands" / "yes").mkdir(parents=True)
        return str(tmp_path / cache_subdir / fname)
    monkeypatch.setattr(tf.keras.utils, "get_file", fake_get_file)
    assert resolve_data_dir().resolve() == (tmp_path / "data" / "mini_speech_commands").resolve()
