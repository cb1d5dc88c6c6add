"""Console pages of exceptions."""

app_name = "exceptions"
urlpatterns: list = []
