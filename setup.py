"Packaging for stateset_agents: nbdev 2's template, adapted to current setuptools and our dependency groups."
from configparser import ConfigParser
from pathlib import Path
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']
for key in 'version description keywords author author_email'.split(): assert key in cfg, f'settings.ini lacks {key}'

licenses = {'apache2': 'Apache-2.0'}  # an SPDX expression (setuptools deprecates licence classifiers)
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
py_versions = '3.11 3.12 3.13'.split()
min_python = cfg['min_python']

def reqs(key): return cfg.get(key, '').split()
extras = {group: reqs(f'{group}_requirements') for group in ('training', 'notebook', 'api', 'vllm', 'hpo', 'distributed', 'dev')}
# vllm pins transformers<5.20 and fastapi<0.137 (ours: 5.24.0, 0.165.0), so it gets its own environment and stays out of `all`.
standalone = {'vllm'}
extras['all'] = sorted({r for group, rs in extras.items() if group not in standalone for r in rs})
readme = Path('README.md')

setuptools.setup(
    name=cfg['lib_name'],
    license=licenses[cfg['license']],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Natural Language :: ' + cfg['language'].title()]
                + ['Programming Language :: Python :: ' + v for v in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['stateset_agents', 'stateset_agents.*']),
    include_package_data=True,
    package_data={'stateset_agents': ['data/**/*']},
    install_requires=reqs('requirements'),
    extras_require=extras,
    python_requires='>=' + min_python,
    long_description=readme.read_text(encoding='utf-8') if readme.exists() else cfg['description'],
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    version=cfg['version'], description=cfg['description'], keywords=cfg['keywords'],
    author=cfg['author'], author_email=cfg['author_email'],
)
