"""The running bot: settings, CLI, commands, monitors, delivery, rendering and chat adapters."""
