"""The human benchmark (`python -m mnist1d.apps.human`): a local page where a person practises on labelled
training samples and then classifies test samples, scored like a model (results.json) and compared per digit
with trained runs (`mnist1d.reports.human`).

Modules: `quiz` (which questions, the answers saved after each one), `scoring` (results.json of a finished
test), `api` (what the page asks for), `server` (HTTP on 127.0.0.1, one server per results directory),
`__main__` (the Hydra app); the page itself is package data in `static/`.
"""
