"""The five versions as their scripts declare them, and the original report's recipes they are
compared with (the benchmark, the search's references, the folds). The scripts are imported,
not run."""

import ex1_a
import ex1_b
import ex2_a
import ex2_b
import ex2_c
from common import forecast, kws
from common.frontend_np import MFCC_8K, MFCC_16K

DECLARED = {m.VERSION.version: m.VERSION for m in (ex1_a, ex1_b, ex2_a, ex2_b, ex2_c)}


def seed_recipes():
    """The original report's models, trained by this project's pipelines: ex1 16/24 widths, 90 %
    pruning, full-int8 per channel; ex2 DS-CNN 96-64-64 20 epochs, post-training int8, the
    course's BatchNormalization (no quantization-aware epochs; 8 kHz + 1 DW block for c)."""
    from common.models import forecast_cnn, forecast_mlp

    seed_bn = dict(
        bn_momentum=0.1, bn_reestimate=False
    )  # the course's BatchNormalization, as the original report ran it
    s16 = kws.KWSVersion(
        "ex2_a", MFCC_16K, filters=(96, 64, 64), qat_epochs=0, stem="seed_kws_16k", **seed_bn
    )
    s8 = kws.KWSVersion(
        "ex2_c",
        MFCC_8K,
        filters=(96, 64, 64),
        extra_depthwise=1,
        qat_epochs=0,
        **seed_bn,
        stem="seed_kws_8k",
    )
    return {
        "ex1_a": forecast.seed_recipe(
            "ex1_a", "Conv1D(16,k3)-Dense(24)-Dense(12)", lambda: forecast_cnn(16, 24)
        ),
        "ex1_b": forecast.seed_recipe(
            "ex1_b", "Dense(16)-Dense(24)-Dense(12)", lambda: forecast_mlp((16, 24))
        ),
        "ex2_a": s16,
        "ex2_b": s16,
        "ex2_c": s8,  # a and b share the 16 kHz baseline
    }
