# shellcheck shell=sh disable=SC2154
# %preun: $1 is 0 on erase (stop and disable), 1 when an upgrade removes the old version (the
# new %post has restarted the agent already: nothing to do).
if [ "$1" = 0 ]; then
  cda_stop_and_disable
fi
exit 0
