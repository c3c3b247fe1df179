"""Build-stage fixtures: configs that reuse the session's resnet18/resnet50 exports, and real TensorRT-RTX builds
(FP32, FP16-typed, Q/DQ INT8) made once per session."""

from __future__ import annotations

import pytest
from build_fixtures import BUILDS, config_beside


@pytest.fixture(scope="session")
def rtx_builds(resnet18_tagged, resnet50_tagged, tmp_path_factory: pytest.TempPathFactory):
    """(model, precision) -> (config, BuildResult), built for real with TensorRT-RTX through engine_for_config."""
    pytest.importorskip("tensorrt_rtx")
    from trtforge.build import engine_for_config

    root = tmp_path_factory.mktemp("builds")
    results = {}
    for model, (exported, _tags) in (("resnet18", resnet18_tagged), ("resnet50", resnet50_tagged)):
        for precision, (pattern, overrides, name) in BUILDS.items():
            config = config_beside(exported, pattern.format(model=model), root, *overrides,
                                   as_name=name.format(model=model))
            results[model, precision] = (config, engine_for_config(config))
    return results
