# Removes <hash>.tmp<random> files from an ExternalData object store when the object <hash>
# itself is there (they are leftovers of its creation). Usage: cmake -DSTORE=DIR -P this file
file(GLOB _leftovers "${STORE}/*/*.tmp*")
foreach(_file IN LISTS _leftovers)
  string(REGEX REPLACE "\\.tmp[^/]*$" "" _object "${_file}")
  if(EXISTS "${_object}" AND NOT _object STREQUAL _file)
    file(REMOVE "${_file}")
  endif()
endforeach()
