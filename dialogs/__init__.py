"""The flows people go through: report, decide, review, appeal.

Dialogs take plain data (who is acting, what they typed or submitted) and answer with plain
replies (text and Adaptive Cards as dicts). The Bot Framework types stay in `bot/`, which turns
activities into these calls and replies into activities.
"""
