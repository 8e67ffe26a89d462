"""The one cross-app flow: import -> judge -> route -> review tasks -> re-route.

It lives above both apps it joins: ``routing`` (batches, judging, the router, decisions) knows
nothing of reviewers, and ``reviewers`` (roster, tasks, labels) may read routing's models but does
not drive routing. Views, APIs, commands and tasks of either side call these functions, so the
order of the steps is written once. Why here and not in ``dashboard``: commands and Celery tasks
use it too, and a flow kept in a UI app would make them depend on pages.
"""
