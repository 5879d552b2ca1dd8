"""Feedback on served replies (ratings, rankings, comments): protocol, routes, serving, and
``export`` / ``commands``, which turn stored feedback into reward-model preference pairs."""
