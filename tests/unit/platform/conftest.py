from unit.platform.kit import make_platform, platform

__all__ = ["make_platform", "platform"]
