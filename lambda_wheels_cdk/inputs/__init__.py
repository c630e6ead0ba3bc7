"""What the user gives: dependency inputs (requirements files, lists, pyproject, uv/Poetry/
Pipenv/pylock locks), index settings and credentials, and path resolution.

Pure: nothing here imports ``aws_cdk``, ``constructs`` or ``jsii``.
"""
