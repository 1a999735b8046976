# shellcheck shell=sh disable=SC2154
# %postun: rpm has no purge. Erase keeps the deployment history, the logs and the agent's
# state; rpm itself keeps an edited config as codedeployagent.yml.rpmsave.
if [ "$1" = 0 ]; then
  cda_rmdir_if_empty "$CDA_PREFIX"
fi
cda_daemon_reload
exit 0
