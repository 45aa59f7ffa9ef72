"""Helpers, fakes, constants and shared fixtures that test modules import (none is collected)."""
