"""The annual report to committee: HTML, PDF and CSV, with charts; small numbers suppressed."""
