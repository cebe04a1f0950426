"""What the relationships service runs outside a request.

Both are wired in bootstrap.py rather than declared here: the sweep is the
periodic job "relationships.sweep" (`RelationshipsService.sweep`, run by the
ThreadScheduler in `connect serve` or by Celery beat + workers through the
platform's `connect.periodic` task), and the member projection is the
"relationships-members" consumer (`RelationshipsService.project_member_event`,
role "projector").
"""
