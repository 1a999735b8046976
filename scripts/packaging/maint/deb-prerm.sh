# shellcheck shell=sh disable=SC2154
# prerm: stop on removal. On upgrade the old agent keeps running (its executable stays open)
# until the new postinst restarts it: one restart instead of a stop, a gap, and a start.
case "$1" in
  remove | deconfigure)
    cda_stop_and_disable
    ;;
esac
exit 0
