# fish completion for qcow2dump
complete -c qcow2dump -s e -l extensions -d 'Show only the header extensions'
complete -c qcow2dump -s b -l bitmaps -d 'Show only the bitmap directory entries'
complete -c qcow2dump -s c -l check -d "Show only the problems against the spec and QEMU's limits"
complete -c qcow2dump -s x -l extents -d 'Show the dirty ranges of each bitmap'
complete -c qcow2dump -s s -l snapshots -d 'Show the internal snapshot table'
complete -c qcow2dump -s t -l bitmap-table -d "Also show each bitmap's table entries"
complete -c qcow2dump -s n -l name -x -d 'Show only the bitmap NAME'
complete -c qcow2dump -s f -l format -x -a 'text json csv' -d 'Output format'
complete -c qcow2dump -l compact -d 'JSON: one document per line'
complete -c qcow2dump -s o -l output -r -F -d 'Write to FILE once complete'
complete -c qcow2dump -l list-checks -d 'List every problem code and exit'
complete -c qcow2dump -s '?' -l help -d 'Show help and exit'
complete -c qcow2dump -l usage -d 'Show a short usage message and exit'
complete -c qcow2dump -s V -l version -d 'Show the version and exit'
complete -c qcow2dump -k -x -a '(__fish_complete_suffix .qcow2)'
