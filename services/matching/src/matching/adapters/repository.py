from __future__ import annotations

from tasdir.db import VersionedProjection

from matching.adapters.orm import ExporterProjection


class ExporterProjectionRepository(VersionedProjection[ExporterProjection]):
    model = ExporterProjection
