# shellcheck shell=sh disable=SC2154
# postrm: on remove keep the config (a conffile), the deployment history and the logs; purge
# removes them (the same promise as scripts/install.sh --uninstall --purge).
case "$1" in
  remove)
    # The config is still here (purge removes it before postrm purge): remember its directories.
    if [ -f "$CDA_ROOT$CDA_CONFIG" ]; then
      cda_read_dirs
      cda_record_dirs
    fi
    cda_daemon_reload
    ;;
  purge)
    cda_purge
    cda_daemon_reload
    ;;
esac
exit 0
