"""Deploy: a validated trial's parameters -> the `.env` the live runner reads, with where
they came from (`trial.deploy_trial`). The top of the data path, under the CLI alone."""

from pk8opt.deploy.trial import Deployed, deploy_trial

__all__ = ["Deployed", "deploy_trial"]
