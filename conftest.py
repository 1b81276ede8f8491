"""Repository-wide pytest setup.

`shared` is imported up front: with `--import-mode=importlib`, the test modules under
`shared/tests` would otherwise register a bare `shared` namespace that hides the library.
"""

import shared  # noqa: F401
