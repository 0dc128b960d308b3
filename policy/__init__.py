"""The Managing Customer Engagement policy as pure rules.

Nothing here touches Teams, the database or the clock: every other package depends on this one
and it depends on none of them.
"""
