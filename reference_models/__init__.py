"""Networks this suite reproduces and trains itself (DebiasFR, IFQA, attribute classifiers).

Empty until the DebiasFR, IFQA and attribute-metric issues land; kept so the package layout of the
suite is stable.

* :mod:`reference_models.shared.stylegan2` — StyleGAN2 building blocks in plain torch (equalised layers,
  modulated conv, noise, ToRGB, bilinear and FIR/upfirdn2d resampling, minibatch stddev);
* :mod:`bench.core.checkpoints` — strict state-dict loading and manifest comparison;
* :mod:`reference_models.debiasfr` — DebiasFR generator ``DBFR`` and discriminator.
"""
