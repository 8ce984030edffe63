# sluice_add_plugin(<name> <sources>...)
#
# Builds a Sluice plugin: a MODULE library lib<name>.so linked to sluice::plugin-api,
# compiled with hidden visibility and linked with a version script so that the entry
# symbol is the only one exported. Works in C and C++ sources alike.
set(SLUICE_PLUGIN_VERSION_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/sluice_plugin.map")

function(sluice_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE sluice::plugin-api)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # A plugin resolves every symbol at load time (the host loads with RTLD_NOW);
  # catch missing ones when linking instead.
  target_link_options(${name} PRIVATE "LINKER:--no-undefined"
                      "LINKER:--version-script=${SLUICE_PLUGIN_VERSION_SCRIPT}")
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${SLUICE_PLUGIN_VERSION_SCRIPT}")
endfunction()
