from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    """The console landing page; what it links to follows the user's roles."""
    return render(request, "home.html", {"roles": request.user.role_names})
