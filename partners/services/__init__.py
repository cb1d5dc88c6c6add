"""Every write of partners. Modules: agreements, attributions, engine (accruals; its
set-based statements in bulk), settlements, holds, emit (the settlement.approved event)."""
