"""ERP adapters: one small interface (base.ErpAdapter), one module per ERP kind."""
