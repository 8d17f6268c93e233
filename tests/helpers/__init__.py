"""Helpers shared by the test modules (data writers, slow references, tiny models), imported as
``from helpers.<module> import ...``.

Test modules follow pytest's default ``prepend`` import mode: the test folders have no
``__init__.py``, so every ``test_*.py`` basename must be unique across ``tests/``. This package
is importable because ``[tool.pytest.ini_options] pythonpath`` puts ``tests/`` on ``sys.path``.
"""
