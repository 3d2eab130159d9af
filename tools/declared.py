"""The five versions as their scripts declare them (imported, not run), and the original report's
recipes they are compared with (the benchmark, the search's references, the folds)."""

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
    pruning, full-int8 per channel; ex2 DS-CNN 96-64-64, post-training int8 (c: 8 kHz, 1 DW)."""
    from common.models import forecast_cnn, forecast_mlp

    # no quantization-aware epochs, and the course's BatchNormalization, as the report ran them
    seed = dict(filters=(96, 64, 64), qat_epochs=0, bn_momentum=0.1, bn_reestimate=False)
    kws_16k = kws.KWSVersion("ex2_a", MFCC_16K, stem="seed_kws_16k", **seed)
    kws_8k = kws.KWSVersion("ex2_c", MFCC_8K, extra_depthwise=1, stem="seed_kws_8k", **seed)
    cnn, mlp = "Conv1D(16,k3)-Dense(24)-Dense(12)", "Dense(16)-Dense(24)-Dense(12)"
    return {
        "ex1_a": forecast.seed_recipe("ex1_a", cnn, lambda: forecast_cnn(16, 24)),
        "ex1_b": forecast.seed_recipe("ex1_b", mlp, lambda: forecast_mlp((16, 24))),
        "ex2_a": kws_16k,
        "ex2_b": kws_16k,  # a and b share the 16 kHz baseline
        "ex2_c": kws_8k,
    }
