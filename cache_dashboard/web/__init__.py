"""The dashboard's pages in the Django admin: ``urls`` (the URL table), ``permissions`` (who may do
what), ``pages`` (GET), ``actions`` (POST mutations through ``services``), ``presenters`` (data
as the templates show it), ``forms`` (input validation), ``base`` (what every view shares)."""
