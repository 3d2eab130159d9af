"""Command-line pieces shared by the five scripts: common options, seeding, error exit."""
import argparse
import sys


def parser(description, versions, default_version, out_dir="models", epochs=20):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--version", choices=versions, default=default_version,
                   help=f"which version to build (default: {default_version})")
    p.add_argument("--out-dir", default=out_dir, help=f"where models are written (default: {out_dir})")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (default: the version's own, e.g. {epochs})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    return p


def set_seed(seed):
    """Seed Python, numpy and TensorFlow, and ask TensorFlow for deterministic ops."""
    import tensorflow as tf
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def run(main, argv=None):
    """Call `main(argv)`; input errors (DataError, WavError, ModelFileError are ValueErrors;
    missing files) become one line on stderr and exit status 1."""
    try:
        return main(argv)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
