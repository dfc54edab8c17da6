"""Chat adapters: each translates between one platform and the neutral command/message layer.

Only modules in this package import slack_bolt, slack_sdk or discord.
"""
