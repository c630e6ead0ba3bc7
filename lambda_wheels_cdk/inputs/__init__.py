"""What the user gives: dependency inputs (requirements files, lists, pyproject, uv/Poetry/
Pipenv/pylock locks), index settings and credentials, and path resolution.

Pure: nothing here imports ``aws_cdk``, ``constructs`` or ``jsii``.

Where each idea lives: :mod:`.spec` (:class:`~.spec.DependencySpec`,
:class:`~.spec.IndexSettings`, fingerprints), :mod:`.detect` (:func:`~.detect.detect`,
:func:`~.detect.load`), one module per format (:mod:`.requirements`, :mod:`.pyproject`,
:mod:`.uvlock`, :mod:`.poetry`, :mod:`.pipfile`, :mod:`.pylock`), and their shared parts:
:mod:`.inputfile` (one file being read into a spec), :mod:`.entries` (one requirement),
:mod:`.markers`, :mod:`.reading` (files and problem messages), :mod:`.paths`; credentials are
masked by :mod:`lambda_wheels_cdk.urls`.

Every supported input (``requirements.txt``, ``pyproject.toml``, ``uv.lock``, ``poetry.lock``,
``Pipfile.lock``, PEP 751 ``pylock.toml``, an inline list) becomes the same value: the
requirement lines to install (PEP 508, normalized by :mod:`packaging`), constraints, pinned
hashes, index settings and the absolute paths of local path requirements. The bundle builder
gives the installers these lines as :class:`~.requirement_lines.Requirements` (names, pins,
hashes, markers; the ``InstallPlan``'s structured requirements), whose one renderer writes the
file ``uv pip install -r`` / ``pip install -r`` read; index settings go as command-line flags,
so credentials never reach the disk.

Auto-detection in an entry folder (:func:`~.detect.detect`), first match wins:

1. ``pylock.toml`` (PEP 751)
2. ``uv.lock`` -- only with ``pyproject.toml`` next to it (``uv export`` reads both)
3. ``poetry.lock``
4. ``Pipfile.lock``
5. ``requirements.txt``
6. ``pyproject.toml`` that has ``[project].dependencies``

A folder with none of these has no dependencies (that is fine). A ``Pipfile`` without its
``Pipfile.lock``, a Poetry ``pyproject.toml`` without ``poetry.lock``, or a ``uv.lock`` without
``pyproject.toml`` is an :class:`~lambda_wheels_cdk.errors.InputError`: the bundle would
otherwise silently ship without dependencies.

Decisions worth knowing:

* **Paths.** ``-r``/``-c`` includes, ``--find-links`` folders and path requirements
  (``./pkg``, ``pkg-1.0-py3-none-any.whl``, ``name @ file:///...``) are resolved against the
  folder of the file that names them (pip uses the current folder; a bundler run from
  ``cdk synth`` must not depend on it). Path requirements are installed *non-editable*
  (``name @ file:///abs/path``); their name comes from the wheel/sdist file name or the
  folder's ``pyproject.toml``/``setup.cfg``. Local folders recorded by lock files (uv workspace
  members, Poetry ``directory`` sources, Pipfile ``path`` entries, pylock ``directory``) are
  installed the same way. The fingerprint covers their *content*, never their absolute path.
* **Environment variables.** ``${NAME}`` (upper case, digits, ``_``) in requirements files is
  expanded as pip does (unset or empty variables are left as written). Messages quote the line
  as written, so an expanded secret never appears in them.
* **Credentials.** A URL's password or token is masked as ``***`` in every message
  (:func:`redact_url`), :meth:`IndexSettings.redacted` / :meth:`DependencySpec.redacted` give
  log-safe copies (their ``repr`` is already masked), and the fingerprint drops credentials
  entirely so changing only a token does not change it. A credential written *inside a direct
  URL requirement* (``pkg @ https://user:tok@host/pkg.whl``) is part of that requirement and
  so of :meth:`DependencySpec.requirements_txt`; put such credentials in netrc instead.
* **Indexes.** ``--index-url``/``--extra-index-url``/``--find-links``/``--no-index`` lines,
  Pipfile sources, Poetry ``legacy`` sources, pylock ``index`` URLs and the registries a
  ``uv.lock`` records become :class:`IndexSettings` (PyPI itself is dropped: it is the
  default). :meth:`IndexSettings.merged` gives explicit settings priority over these.
* **Hashes.** In a requirements file either every requirement has ``--hash`` or none has
  (pip's hash-checking mode); hashed requirements must be pinned with ``==``. Lock files record
  hashes for what they can; when some locked requirement has none (a local folder),
  :meth:`DependencySpec.requirements_txt` writes no hashes at all (see
  :attr:`DependencySpec.hash_checking`).
* **Poetry.** ``poetry.lock`` is read directly. Poetry >= 2 (``lock-version`` 2.1) records each
  package's groups and markers; older locks do not, so their membership and markers are
  computed by walking the lock's dependency graph from the ``pyproject.toml`` next to it.
* **Markers** are passed through to the installer, which evaluates them for the *target*. Only
  ``extra`` / ``extras`` / ``dependency_groups`` conditions are decided here, from the extras
  and groups that were asked for, because an installer reading a flat requirements file cannot.
* **Not supported** (each an ``InputError`` saying what to do): editable requirements
  (``-e``), VCS sources in lock files, includes by URL, pip options that change resolution
  (``--pre``, ``--only-binary``, ...).

Everything here is pure apart from reading the input files (and hashing local paths for the
fingerprint) and the single ``uv export`` subprocess of :func:`~.uvlock.load_uv_lock`.
"""
