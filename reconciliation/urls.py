"""Console pages of reconciliation."""

app_name = "reconciliation"
urlpatterns: list = []
