"""Console pages of partners."""

app_name = "partners"
urlpatterns: list = []
