#!/usr/bin/env python
"""Django's command-line utility for the migration health console."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    from console.config import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as error:
        sys.exit(str(error))  # a bad setting: the sentence names the variable
    except OperationalError as error:
        # One sentence naming the setting and the address, not a traceback.
        from django.conf import settings

        from console.services import postgres_problem

        sys.exit(postgres_problem(settings.DATABASE_URL) or f"DATABASE_URL: {error}")
    except RedisConnectionError:
        from django.conf import settings

        from console.services import redis_problem

        sys.exit(redis_problem(settings.REDIS_URL) or "REDIS_URL: Redis did not answer")


if __name__ == "__main__":
    main()
