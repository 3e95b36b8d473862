"""The published CIFAR-10 test error of a config, where a paper gives one (``../shared/science.md``).

- He et al. 2016 (Deep Residual Learning), Table 6: ResNet-20/32/44/56/110/1202, basic blocks, shortcut A.
- He et al. 2016 (Identity Mappings), Table 1: ResNet-110 with the shortcut h(x) varied; and the
  after-addition and pre-activation results at depth 164 and 1001.

Only configs of the papers' networks get a number (the same block, shortcut, activation and
batch norm); the dataset and schedule of a sweep may still differ from the paper's, which the
table's heading says.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_viz.config import RunConfig

TABLE6 = "He et al. 2016, Table 6"
IDENTITY = "He et al. 2016b (Identity Mappings), Table 1"
PREACT = "He et al. 2016b (Identity Mappings)"

#: Table 6: depth → CIFAR-10 test error.
TABLE6_ERRORS = {20: "8.75%", 32: "7.51%", 44: "7.17%", 56: "6.97%", 110: "6.43% (mean 6.61 ± 0.16%)", 1202: "7.93%"}
#: Identity Mappings Table 1, ResNet-110: shortcut variant → CIFAR-10 test error.
SHORTCUT_ERRORS = {
    "identity": "6.61%",
    "scale": "12.35%",
    "exclusive_gate": "8.70%",
    "shortcut_gate": "12.86%",
    "conv1x1": "12.22%",
    "dropout": "> 20%",
}


@dataclass(frozen=True)
class Published:
    """A published test error (text, as the paper gives it) and where it is from."""

    value: str
    source: str

    def __str__(self) -> str:
        return f"{self.value} ({self.source})"


def published_error(config: RunConfig) -> Published | None:
    """The published CIFAR-10 test error of ``config``'s network, or None where no paper gives one."""
    m = config.model.resolved()
    if m.arch != "resnet" or m.activation != "relu" or m.batch_norm is False or m.width not in (None, 16):
        return None
    if m.block == "basic" and m.after_add in ("relu", None) and m.shortcut == "A":
        if m.shortcut_variant == "identity" and m.depth in TABLE6_ERRORS:
            return Published(TABLE6_ERRORS[m.depth], TABLE6)
        if m.depth == 110 and m.shortcut_variant in SHORTCUT_ERRORS:
            if m.shortcut_variant == "scale" and m.shortcut_scale != 0.5:
                return None
            if m.shortcut_variant == "dropout" and m.shortcut_dropout != 0.5:
                return None
            return Published(SHORTCUT_ERRORS[m.shortcut_variant], IDENTITY)
    if m.shortcut_variant != "identity" or m.shortcut != "B":
        return None
    if m.block == "bottleneck" and m.depth == 164:
        after = {"relu": "5.93%", "bn_relu": "6.50%"}.get(m.after_add or "relu")
        return Published(after, PREACT + ", Table 2") if after else None
    if m.block == "preact_bottleneck" and m.depth in (164, 1001):
        if m.depth == 164:
            return Published("5.46%", PREACT + ", Table 2")
        return Published("4.92% (4.89 ± 0.14%)", PREACT + ", Table 3")
    return None


__all__ = ["Published", "published_error"]
