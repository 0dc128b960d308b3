"""The workspace tab's pages as HTML (built from data by `workspace.html`), and its static assets
(`static/`: the page, its script and styles, and Microsoft's TeamsJS and Adaptive Cards libraries,
served by the bot itself: the tab reaches no other host)."""
