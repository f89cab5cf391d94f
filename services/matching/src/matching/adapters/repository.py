from __future__ import annotations

from tasdir.db import VersionedProjection

from matching.adapters.orm import ExporterProjection, ProviderProjection


class ExporterProjectionRepository(VersionedProjection[ExporterProjection]):
    model = ExporterProjection


class ProviderProjectionRepository(VersionedProjection[ProviderProjection]):
    model = ProviderProjection
