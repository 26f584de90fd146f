"""Configuration as code: the whole configuration of a console as one JSON file.

    manage.py export_config [FILE]                 everything an operator configures, to a file
    manage.py apply_config FILE [--dry-run] [--prune]

Each part registers the sections it owns (`sections.register_section`, from its AppConfig.ready),
so this package imports no part. Secrets never appear: databases are named by DSNs without
passwords or by the environment variable that holds the DSN.
"""
