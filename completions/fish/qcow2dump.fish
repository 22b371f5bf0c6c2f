# fish completion for qcow2dump

# The names of the bitmaps in the IMAGEs on the line, read with qcow2dump
# itself: column 2 of its CSV, unquoted as RFC 4180 says.  A name holding
# a line break spans two lines and is skipped, one with a tab too (fish
# would take what follows the tab for a description).  fish quotes them.
function __qcow2dump_bitmaps
    set -l images
    set -l prev
    set -l dashes
    for w in (commandline -opc)[2..-1]
        if set -q dashes[1]
            set -a images $w
        else if test "$w" = --
            set dashes 1
        else if not string match -q -- '-*' $w
            and not contains -- "$prev" -n --name -f --format --output -O --output-file
            set -a images $w
        end
        set prev $w
    end
    set -q images[1]; or return
    set -l field '"(?:[^"]|"")*"|[^,"]*'
    command qcow2dump -b -f csv -- $images 2>/dev/null |
        string match -r -g "^(?:$field),($field),[0-9]" |
        string replace -r '^"(.*)"$' '$1' | string replace -a '""' '"' |
        string match -rv '\t'
end

set -l formats 'text human json csv'
complete -c qcow2dump -s e -l extensions -d 'Show only the header extensions'
complete -c qcow2dump -s b -l bitmaps -d 'Show only the bitmap directory entries'
complete -c qcow2dump -s x -l extents -d 'Show the dirty ranges of each bitmap'
complete -c qcow2dump -s c -l check -d "Show only the problems against the spec and QEMU's limits"
complete -c qcow2dump -s s -l snapshots -d 'Show only the internal snapshot table'
complete -c qcow2dump -s m -l map -d 'The allocation map over the backing chain (with -x: split dirty ranges by it)'
complete -c qcow2dump -l start-offset -x -d '--map: begin at this guest offset'
complete -c qcow2dump -l max-length -x -d '--map: map at most this many bytes'
complete -c qcow2dump -l at -x -d 'What owns this byte of the file (repeatable)'
complete -c qcow2dump -l layout -d 'Every structure of the file in file order'
complete -c qcow2dump -s t -l bitmap-table -d "Also show each bitmap's table entries"
complete -c qcow2dump -s n -l name -x -a '(__qcow2dump_bitmaps)' -d 'Bitmap to show'
complete -c qcow2dump -l backing-chain -d "Apply the view to every layer of each IMAGE's backing chain"
complete -c qcow2dump -s f -l format -x -a $formats -d 'Output format'
complete -c qcow2dump -l output -x -a $formats -d 'Output format (qemu-img spelling)'
complete -c qcow2dump -l compact -d 'JSON: one document per line'
complete -c qcow2dump -s O -l output-file -r -F -d 'Write to FILE (- for stdout) once complete'
complete -c qcow2dump -s U -l force-share -d 'Accepted for qemu-img users; qcow2dump never locks'
complete -c qcow2dump -l list-checks -d 'List every problem code and exit'
complete -c qcow2dump -s h -s '?' -l help -d 'Show help and exit'
complete -c qcow2dump -l usage -d 'Show a short usage message and exit'
complete -c qcow2dump -s V -l version -d 'Show the version and exit'
# IMAGE: fish offers any file (block devices too) by default
