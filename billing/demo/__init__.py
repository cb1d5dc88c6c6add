"""The demo company of `manage.py seed_demo`.

- company.toml: the reference data (entities, price list, names, people), read by data.py;
- records.py: the shared event log and the envelope; master_data.py, subscriptions.py,
  settlements.py, problems.py: the generators, one per family of events; company.py puts
  them together in their fixed order;
- setup.py: the writes (reference data, the books' close, the people, sending the events).
"""
