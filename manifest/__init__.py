"""The Teams app package's source: manifest.json and the two icons (`engagement-bot manifest build`).

A package only so that an installed bot carries these files with it."""
