# fails: upload
# passes: listing, download, rename_delete, mkd_rmd, both_modes
# Uploads the binary file in text mode (storlines): its line ends are changed.
import ftplib

HOST = 'ftp'
USER = 'student'
PASSWD = 'password'
DIRN = 'exercise-08'


def work(f, mode):
    """One pass in the folder exercise-08/<mode>."""
    print('*** pass in', mode, 'mode')
    f.cwd('/' + DIRN + '/' + mode)
    print('*** PWD:', f.pwd())
    f.dir()
    with open(mode + '-download.bin', 'wb') as out:
        f.retrbinary('RETR download.bin', out.write)
    with open('upload.bin', 'rb') as src:
        f.storlines('STOR upload.bin', src)
    f.rename('old.txt', 'new.txt')
    f.delete('delete-me.txt')
    f.mkd('new-dir')
    f.rmd('remove-me')
    print('*** done:', f.nlst())


def main():
    try:
        f = ftplib.FTP(HOST, timeout=10)
    except OSError as e:
        print('ERROR: cannot reach "%s": %s' % (HOST, e))
        return
    print('*** Connected to host "%s"' % HOST)
    try:
        f.login(USER, PASSWD)
        f.set_pasv(True)            # 被动模式 (ftplib's default)
        work(f, 'passive')
        f.set_pasv(False)           # 主动模式: the server connects to us
        work(f, 'active')
    except ftplib.all_errors as e:
        print('ERROR:', e)
    finally:
        f.quit()


if __name__ == '__main__':
    main()
