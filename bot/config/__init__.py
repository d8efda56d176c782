"""The staff configuration: the YAML files, their models and checks, and the live holder.

Owns: reading config/*.yaml with line numbers (yamlsource), the pydantic models (models,
programs), the checked bundle (bundle), every problem staff can make (check, explain,
problems) and the holder a running process reads from (holder).
May import: segments/, bot.errors, bot.clock. Never the database, LINE or Flask.
The public surface is re-exported here: `from bot.config import Config, load_config`.
"""

from bot.config.holder import *  # noqa: F403
from bot.config.holder import __all__  # noqa: F401
