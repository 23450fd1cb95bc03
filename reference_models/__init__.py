"""Networks this suite reproduces and trains itself (DebiasFR, IFQA, attribute classifiers).

Empty until the DebiasFR, IFQA and attribute-metric issues land; kept so the package layout of the
suite is stable.
"""
