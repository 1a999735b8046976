# shellcheck shell=sh disable=SC2154
# %post: $1 is 1 on install, 2 on upgrade. Either way: directories, enable, (re)start. The new
# files are all in place already (rpm removes only the old package's leftovers after this).
cda_make_dirs
cda_enable_and_restart
exit 0
