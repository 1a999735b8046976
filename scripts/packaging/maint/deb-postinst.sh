# shellcheck shell=sh disable=SC2154
# postinst <configure> [<previous version>]: directories, then enable and (re)start.
case "$1" in
  configure)
    cda_make_dirs
    cda_enable_and_restart
    ;;
  abort-upgrade | abort-remove | abort-deconfigure)
    cda_enable_and_restart
    ;;
esac
exit 0
