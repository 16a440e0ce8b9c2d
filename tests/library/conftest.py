"""Fixtures of the library tests: alpha and beta rendered once per session."""
import pytest

from library_helpers import render_two


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """{"alpha": RenderedModel, "beta": RenderedModel}, rendered for mps2-an386."""
    return render_two(tmp_path_factory.mktemp("library"))
